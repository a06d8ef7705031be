using System.Globalization;

namespace PgShift;

/// <summary>A count and its noun, agreeing: "1 table", "2 tables", "1 index", "3 indexes".</summary>
public static class Plural
{
    public static string Of(long count, string one, string? many = null)
        => string.Create(CultureInfo.InvariantCulture, $"{count:N0} {(count == 1 ? one : many ?? one + "s")}");
}
