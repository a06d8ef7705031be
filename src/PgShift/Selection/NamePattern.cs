using System.Text;
using System.Text.RegularExpressions;
using PgShift.Catalog;

namespace PgShift.Selection;

/// <summary>
/// A name or a glob, of one name (a schema) or a dotted one (schema.table), matched exactly and case-sensitively, as
/// PostgreSQL stores names. Unquoted, <c>*</c> is any run of characters, <c>?</c> one character and <c>.</c> separates
/// names; inside double quotes, as in SQL, every character stands for itself and <c>""</c> is a quote:
/// <c>"My Schema"."T.1"</c>, <c>"we""ird"</c>, <c>sales_*</c>.
/// </summary>
public sealed class NamePattern
{
    private readonly Regex[] _parts;
    private readonly Regex[] _partsIgnoringCase;

    public NamePattern(string pattern)
    {
        Pattern = pattern;
        var parts = Parse(pattern);
        _parts = parts.Select(p => new Regex(p, RegexOptions.CultureInvariant | RegexOptions.Singleline)).ToArray();
        _partsIgnoringCase = parts.Select(p => new Regex(p, RegexOptions.CultureInvariant | RegexOptions.Singleline | RegexOptions.IgnoreCase)).ToArray();
    }

    public string Pattern { get; }

    /// <summary>How many dot-separated names the pattern has: 1 for a schema or a table in any schema, 2 for schema.table.</summary>
    public int PartCount => _parts.Length;

    /// <summary>Whether a one-name pattern matches <paramref name="name"/>.</summary>
    public bool IsMatch(string name) => _parts.Length == 1 && _parts[0].IsMatch(name);

    /// <summary>A table pattern: a table name in any schema, or schema.table.</summary>
    public bool IsMatch(QualifiedName table) => Matches(_parts, table);

    /// <summary>Whether the pattern would match if case did not count: what a user who forgot the double quotes meant.</summary>
    public bool IsMatchIgnoringCase(string name) => _partsIgnoringCase.Length == 1 && _partsIgnoringCase[0].IsMatch(name);

    public bool IsMatchIgnoringCase(QualifiedName table) => Matches(_partsIgnoringCase, table);

    public override string ToString() => Pattern;

    private static bool Matches(Regex[] parts, QualifiedName table) => parts.Length switch
    {
        1 => parts[0].IsMatch(table.Name),
        2 => parts[0].IsMatch(table.Schema) && parts[1].IsMatch(table.Name),
        _ => false,
    };

    /// <summary>The pattern's names as anchored regular expressions.</summary>
    private static List<string> Parse(string pattern)
    {
        var parts = new List<string>();
        var sb = new StringBuilder("^");
        var length = 0;
        var quoted = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < pattern.Length && pattern[i + 1] == '"')
                {
                    sb.Append('"');
                    length++;
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    sb.Append(Regex.Escape(c.ToString()));
                    length++;
                }
                continue;
            }
            switch (c)
            {
                case '"':
                    quoted = true;
                    break;
                case '.':
                    EndPart();
                    break;
                case '*':
                    sb.Append(".*");
                    length++;
                    break;
                case '?':
                    sb.Append('.');
                    length++;
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    length++;
                    break;
            }
        }
        if (quoted)
        {
            throw new PgShiftException($"Pattern '{pattern}' has a double quote that is not closed.",
                "Close the quoted name, and write a quote inside it as two: '\"we\"\"ird\"' for the name we\"ird.");
        }
        EndPart();
        return parts;

        void EndPart()
        {
            if (length == 0)
            {
                throw new PgShiftException($"Pattern '{pattern}' has an empty name{(pattern.Length == 0 ? "" : " (a dot at its start or end, or two dots in a row)")}.",
                    "Write schema.table with a name on each side of the dot, and double-quote a name that contains a dot: '\"my.schema\".t'.");
            }
            parts.Add(sb.Append('$').ToString());
            sb.Clear().Append('^');
            length = 0;
        }
    }
}
