namespace PgShift.Catalog;

public static class NameList
{
    /// <summary>"a, b, c and 7 more": names of the objects concerned, short enough for one line.</summary>
    public static string Of(IEnumerable<string> names, int max = 10)
    {
        var all = names.ToList();
        var shown = string.Join(", ", all.Take(max));
        return all.Count > max ? $"{shown} and {all.Count - max} more" : shown;
    }
}
