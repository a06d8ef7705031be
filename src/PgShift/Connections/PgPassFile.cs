using System.Globalization;
using System.Text;

namespace PgShift.Connections;

/// <summary>Reads a libpq password file: hostname:port:database:username:password, '*' matches anything.</summary>
public static class PgPassFile
{
    public static string? Lookup(string path, string host, int port, string database, string user)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        if (!OperatingSystem.IsWindows())
        {
            // libpq ignores a password file that others can read; so do we, for the same reason.
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                return null;
            }
        }
        // libpq matches "localhost" for Unix-socket connections; a host given as a path is one.
        var portText = port.ToString(CultureInfo.InvariantCulture);
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            var fields = Split(line);
            if (fields.Count < 5)
            {
                continue;
            }
            if (Matches(fields[0], host) && Matches(fields[1], portText) && Matches(fields[2], database) && Matches(fields[3], user))
            {
                return fields[4];
            }
        }
        return null;
    }

    private static bool Matches(string pattern, string value) => pattern == "*" || pattern == value;

    private static List<string> Split(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '\\' && i + 1 < line.Length)
            {
                current.Append(line[++i]);
            }
            else if (c == ':' && fields.Count < 4)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }
        fields.Add(current.ToString());
        return fields;
    }
}
