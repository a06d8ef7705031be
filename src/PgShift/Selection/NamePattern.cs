using System.Text;
using System.Text.RegularExpressions;

namespace PgShift.Selection;

/// <summary>
/// A name or a glob (<c>*</c> any run of characters, <c>?</c> one character), matched exactly and
/// case-sensitively, as PostgreSQL stores names.
/// </summary>
public sealed class NamePattern
{
    private readonly Regex _regex;

    public NamePattern(string pattern)
    {
        Pattern = pattern;
        var sb = new StringBuilder("^");
        foreach (var c in pattern)
        {
            sb.Append(c switch { '*' => ".*", '?' => ".", _ => Regex.Escape(c.ToString()) });
        }
        sb.Append('$');
        _regex = new Regex(sb.ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline);
    }

    public string Pattern { get; }

    public bool IsMatch(string name) => _regex.IsMatch(name);

    public override string ToString() => Pattern;
}
