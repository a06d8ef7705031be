using System.Text;
using System.Text.RegularExpressions;

namespace PgShift.Settings;

/// <summary>
/// A task's name: lower-case letters, digits and underscores, short enough that the slot name
/// <c>pgshift_&lt;task&gt;</c> fits PostgreSQL's 63-byte limit.
/// </summary>
public static partial class TaskName
{
    public const string Prefix = "pgshift_";
    public const int MaxLength = 63 - 8;

    public static string Validate(string name)
    {
        if (!ValidName().IsMatch(name) || name.Length > MaxLength)
        {
            throw new PgShiftException($"Task name '{name}' is not valid.",
                $"Use 1 to {MaxLength} lower-case letters, digits and underscores, starting with a letter or underscore (it becomes the replication slot name {Prefix}<task>).");
        }
        return name;
    }

    /// <summary>The default task name: the source database's name, made valid.</summary>
    public static string FromDatabase(string database)
    {
        var sb = new StringBuilder();
        foreach (var ch in database.ToLowerInvariant())
        {
            sb.Append(ch is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' ? ch : '_');
        }
        var s = sb.ToString();
        if (s.Length == 0 || char.IsDigit(s[0]))
        {
            s = "db_" + s;
        }
        return s.Length > MaxLength ? s[..MaxLength] : s;
    }

    public static string SlotName(string task) => Prefix + task;

    private static int _temporarySlots;

    /// <summary>
    /// A temporary slot of this process for the task (a resumed copy's snapshot, a verify's): unique in the process,
    /// and within PostgreSQL's 63-byte limit however long the task's name is.
    /// </summary>
    public static string TemporarySlotName(string task, string purpose)
    {
        var unique = $"{purpose}_{Environment.ProcessId}_{Interlocked.Increment(ref _temporarySlots)}";
        var name = $"{Prefix}{task}_{unique}";
        return name.Length <= 63 ? name : $"{Prefix}{unique}_{task}"[..63];
    }

    public static string PublicationName(string task) => Prefix + task;

    [GeneratedRegex("^[a-z_][a-z0-9_]*$")]
    private static partial Regex ValidName();
}
