using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace PgShift;

/// <summary>
/// The one place that removes secrets from text before it is printed, logged or stored. Every
/// password PgShift has parsed is registered here, and connection-string shapes are masked too.
/// </summary>
public static partial class Redactor
{
    public const string Mask = "********";
    private static readonly ConcurrentDictionary<string, byte> Secrets = new(StringComparer.Ordinal);

    /// <summary>Keywords whose values are shown in a masked connection string; any other value may be a secret.</summary>
    private static readonly HashSet<string> ShownKeywords = new(StringComparer.Ordinal)
    {
        "host", "hostaddr", "port", "dbname", "user", "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout",
        "application_name", "fallback_application_name", "options", "target_session_attrs", "keepalives", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "sslcompression", "gssencmode", "client_encoding", "channel_binding", "requiressl",
    };

    public static void Register(string secret)
    {
        // A one- or two-letter password would mask half of every message; the patterns below still apply.
        if (secret.Length >= 3)
        {
            Secrets.TryAdd(secret, 0);
        }
    }

    public static string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }
        var result = UriPassword().Replace(text, m => m.Groups[1].Value + Mask + "@");
        result = KeywordPassword().Replace(result, m => m.Groups[1].Value + Mask);
        foreach (var secret in Secrets.Keys)
        {
            result = result.Replace(secret, Mask, StringComparison.Ordinal);
            var encoded = Uri.EscapeDataString(secret);
            if (encoded != secret)
            {
                result = result.Replace(encoded, Mask, StringComparison.Ordinal);
            }
        }
        return result;
    }

    /// <summary>
    /// A connection string as it may be shown in an error about it, even one that does not parse: whatever could be a
    /// password is masked. In a URI (of any scheme, with or without its slashes) that is what precedes the last '@' after
    /// the user name, a port that is not a number when there is no '@' (a forgotten '@' makes the password look like one),
    /// and every URI parameter but the values of known harmless keywords; in keyword/value form, the value of password and of every keyword that is
    /// not a known harmless one, and every word without '=' (a password typed without its keyword).
    /// </summary>
    public static string MaskConnectionString(string text)
        => Redact(UriScheme().IsMatch(text) ? MaskUri(text) : MaskKeywordValue(text));

    private static string MaskUri(string text)
    {
        var m = UriScheme().Match(text);
        var schemeEnd = m.Index + m.Length;
        var slashes = 0;
        while (schemeEnd + slashes < text.Length && text[schemeEnd + slashes] == '/')
        {
            slashes++;
        }
        var start = schemeEnd + slashes;
        var sb = new StringBuilder(text[..start]);
        var at = text.LastIndexOf('@');
        int rest;
        if (at >= start)
        {
            var userInfo = text[start..at];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            // Only a well-formed "scheme://user[:password]@" shows its user; anything else before the '@' may be the password.
            sb.Append(slashes != 2 ? Mask : colon >= 0 ? userInfo[..(colon + 1)] + Mask : userInfo).Append('@');
            rest = at + 1;
        }
        else
        {
            rest = start;
            var end = text.IndexOfAny(['/', '?'], start);
            var authority = end < 0 ? text[start..] : text[start..end];
            var colon = authority.IndexOf(':', StringComparison.Ordinal);
            if (!authority.StartsWith('[') && colon >= 0 && !PortList().IsMatch(authority[(colon + 1)..]))
            {
                sb.Append(authority[..(colon + 1)]).Append(Mask);
                rest = start + authority.Length;
            }
        }
        var q = text.IndexOf('?', rest);
        if (q < 0)
        {
            return sb.Append(text[rest..]).ToString();
        }
        sb.Append(text, rest, q + 1 - rest);
        var parameters = text[(q + 1)..].Split('&');
        for (var p = 0; p < parameters.Length; p++)
        {
            var eq = parameters[p].IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? null : parameters[p][..eq];
            sb.Append(p > 0 ? "&" : "").Append(key is null ? (parameters[p].Length == 0 ? "" : Mask)
                : (KeywordLike().IsMatch(key) ? key : Mask) + "=" + (ShownKeywords.Contains(key) || key == "ssl" ? parameters[p][(eq + 1)..] : Mask));
        }
        return sb.ToString();
    }

    private static string MaskKeywordValue(string text)
    {
        var sb = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                sb.Append(text[i++]);
                continue;
            }
            var keyStart = i;
            while (i < text.Length && text[i] != '=' && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }
            var key = text[keyStart..i];
            var j = i;
            while (j < text.Length && char.IsWhiteSpace(text[j]))
            {
                j++;
            }
            if (j >= text.Length || text[j] != '=')
            {
                sb.Append(Mask);
                continue;
            }
            sb.Append(KeywordLike().IsMatch(key) ? key : Mask).Append(text, i, j + 1 - i);
            i = j + 1;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                sb.Append(text[i++]);
            }
            var valueStart = i;
            if (i < text.Length && text[i] == '\'')
            {
                i++;
                while (i < text.Length && text[i] != '\'')
                {
                    i += text[i] == '\\' ? 2 : 1;
                }
                i = Math.Min(i + 1, text.Length);
            }
            else
            {
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    i += text[i] == '\\' ? 2 : 1;
                }
                i = Math.Min(i, text.Length);
            }
            sb.Append(ShownKeywords.Contains(key) ? text[valueStart..i] : Mask);
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"([a-z][a-z0-9+.-]*:/{1,3}[^:/@\s]*:)[^@\s]*@", RegexOptions.IgnoreCase)]
    private static partial Regex UriPassword();

    [GeneratedRegex(@"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s;&]*)", RegexOptions.IgnoreCase)]
    private static partial Regex KeywordPassword();

    [GeneratedRegex(@"^\s*[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex UriScheme();

    [GeneratedRegex(@"^[0-9,:]*$")]
    private static partial Regex PortList();

    [GeneratedRegex(@"^[a-z_]{1,63}$")]
    private static partial Regex KeywordLike();
}
