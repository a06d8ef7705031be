using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace PgShift.Connections;

/// <summary>
/// The one place that removes secrets from text before it is printed, logged or stored. Every
/// password PgShift has parsed is registered here, and connection-string shapes are masked too.
/// </summary>
public static partial class Redactor
{
    public const string Mask = "********";
    private static readonly ConcurrentDictionary<string, byte> Secrets = new(StringComparer.Ordinal);

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

    [GeneratedRegex(@"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", RegexOptions.IgnoreCase)]
    private static partial Regex UriPassword();

    [GeneratedRegex(@"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s;]*)", RegexOptions.IgnoreCase)]
    private static partial Regex KeywordPassword();
}
