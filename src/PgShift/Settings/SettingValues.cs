using System.Globalization;

namespace PgShift.Settings;

/// <summary>
/// Each setting's value read from its text, with one check and one message per setting, whether the value came from
/// a flag or from the task file (<paramref name="origin"/> names which, e.g. "--jobs" or "jobs in the task file").
/// </summary>
public static class SettingValues
{
    public static readonly string[] AllTypes = ["schema", "full", "incremental"];

    /// <summary>A duration as a person writes it: a number and a unit, 12h, 30m or 90s.</summary>
    public static TimeSpan Duration(string text, string what)
    {
        if (text.Length > 1 && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0 && double.IsFinite(n))
        {
            switch (text[^1])
            {
                case 'h': return TimeSpan.FromHours(n);
                case 'm': return TimeSpan.FromMinutes(n);
                case 's': return TimeSpan.FromSeconds(n);
            }
        }
        throw new SettingsException($"{what} '{text}' is not understood.", "Write a number and a unit: 12h, 30m or 90s.");
    }

    /// <summary>A number of parallel connections, 1 or more.</summary>
    public static int Jobs(string text, string origin)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var jobs))
        {
            throw BadJobs(text, origin);
        }
        return Jobs(jobs, origin);
    }

    public static int Jobs(int jobs, string origin) => jobs >= 1 ? jobs : throw BadJobs(jobs.ToString(CultureInfo.InvariantCulture), origin);

    private static SettingsException BadJobs(string text, string origin) => new($"{origin} '{text}' is not a number of parallel connections.",
        $"Give {origin} 1 or more (each job holds a connection to each server), or leave it out: the default is the number of cores, at least 2.");

    /// <summary>A size in MB above 0, above which a table is copied in ranges.</summary>
    public static double SplitThresholdMb(string text, string origin)
        => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var mb) ? SplitThresholdMb(mb, origin) : throw BadSplit(text, origin);

    public static double SplitThresholdMb(double mb, string origin)
        => double.IsFinite(mb) && mb > 0 ? mb : throw BadSplit(mb.ToString(CultureInfo.InvariantCulture), origin);

    private static SettingsException BadSplit(string text, string origin) => new($"{origin} '{text}' is not a size in MB above 0.",
        $"Give the size above which a table is copied in ranges by several workers, in MB: e.g. {origin} 1024 (the default) or 0.5.");

    /// <summary>
    /// A rate in bytes a second, as PostgreSQL writes sizes (units of 1024): 50MB, 500kB, 1.5GB or a number of bytes,
    /// "/s" allowed after it; 0 (or none) for no limit.
    /// </summary>
    public static long ByteRate(string text, string origin)
    {
        if (Amount(text) is not { } t)
        {
            return 0;
        }
        var units = new (string Suffix, double Factor)[] { ("TB", 1L << 40), ("GB", 1L << 30), ("MB", 1L << 20), ("KB", 1L << 10), ("B", 1) };
        var (number, factor) = units.FirstOrDefault(u => t.EndsWith(u.Suffix, StringComparison.OrdinalIgnoreCase)) is { Suffix: not null } unit
            ? (t[..^unit.Suffix.Length].TrimEnd(), unit.Factor)
            : (t, 1d);
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) && n >= 0 && n * factor < long.MaxValue)
        {
            var bytes = (long)Math.Round(n * factor);
            if (bytes > 0 || n == 0)
            {
                return bytes;
            }
        }
        throw new SettingsException($"{origin} '{text}' is not a rate in bytes a second.",
            $"Give a size a second as PostgreSQL writes sizes: e.g. {origin} 50MB, 500kB or 1GB (kB = 1024 bytes), or 0 for no limit.");
    }

    /// <summary>A rate in changes a second: 1000, 2.5 ("/s" allowed after it); 0 (or none) for no limit.</summary>
    public static double ChangeRate(string text, string origin)
    {
        if (Amount(text) is not { } t)
        {
            return 0;
        }
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n) && n >= 0
            ? n
            : throw new SettingsException($"{origin} '{text}' is not a number of changes a second.",
                $"Give how many changes a second the stream may apply to the target: e.g. {origin} 1000, or 0 for no limit.");
    }

    /// <summary>A rate's amount, without "/s"; null for none or off (no limit).</summary>
    private static string? Amount(string rate)
    {
        var t = rate.Trim();
        t = t.EndsWith("/s", StringComparison.OrdinalIgnoreCase) ? t[..^2].TrimEnd() : t;
        return t.Equals("none", StringComparison.OrdinalIgnoreCase) || t.Equals("off", StringComparison.OrdinalIgnoreCase) ? null : t;
    }

    /// <summary>A TCP port to listen on, 1 to 65535.</summary>
    public static int Port(string text, string origin)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? Port(port, origin) : throw BadPort(text, origin);

    public static int Port(int port, string origin) => port is >= 1 and <= 65535 ? port : throw BadPort(port.ToString(CultureInfo.InvariantCulture), origin);

    private static SettingsException BadPort(string text, string origin) => new($"{origin} '{text}' is not a TCP port.",
        $"Give a free port from 1 to 65535 for the metrics and status page, e.g. {origin} 9187.");

    /// <summary>An IP address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 or :: (every interface), or one address of this machine.</summary>
    public static string Address(string text, string origin)
        => System.Net.IPAddress.TryParse(text.Trim('[', ']'), out var address) ? address.ToString()
            : throw new SettingsException($"{origin} '{text}' is not an IP address.",
                $"Give the address to listen on: 127.0.0.1 (the default: this machine only), 0.0.0.0 (every interface) or one of this machine's addresses, e.g. {origin} 10.0.0.5.");

    /// <summary>The conflict policy: error (the default) or ignore.</summary>
    public static ConflictPolicy Conflicts(string? text) => text switch
    {
        null or "error" => ConflictPolicy.Error,
        "ignore" => ConflictPolicy.Ignore,
        var other => throw new SettingsException($"Unknown conflict policy '{other}'.", "Use --on-conflict error (the default) or ignore (on_conflict: in a task file)."),
    };

    /// <summary>The migration types, from "schema,full,incremental" (any order, any subset but none).</summary>
    public static HashSet<string> Types(string text)
    {
        var set = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t => t.ToLowerInvariant()).ToHashSet();
        var unknown = set.Where(t => !AllTypes.Contains(t)).ToList();
        if (set.Count == 0 || unknown.Count > 0)
        {
            throw new SettingsException($"Unknown migration type '{string.Join(",", unknown)}'.", "Use --types with schema, full and/or incremental, comma-separated.");
        }
        return set;
    }
}

/// <summary>A setting's value is wrong (a flag or the task file): nothing was changed; exit code 2.</summary>
public sealed class SettingsException(string message, string fix) : PgShiftException(message, fix);
