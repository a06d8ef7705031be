using System.Globalization;
using System.Reflection;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization.NamingConventions;

namespace PgShift.Settings;

/// <summary>
/// What is wrong in a task file that does not read, said in its own words (a key, a line, what was expected there)
/// rather than in the deserializer's, which names .NET types.
/// </summary>
internal static class TaskFileProblems
{
    /// <summary>The task file's keys, as written in it, and the kind of value each takes.</summary>
    private static readonly Dictionary<string, Type> Keys = KeysOf(typeof(TaskFile));

    private static readonly Dictionary<string, Type> MappingKeys = KeysOf(typeof(TaskFile.MappingSection));

    public static string KeyList => string.Join(", ", Keys.Keys);

    /// <summary>The first problem found in <paramref name="yaml"/>, with its line; null when none is found this way.</summary>
    public static string? Find(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            return $"line {ex.Start.Line}, column {ex.Start.Column}: this is not valid YAML ({Redactor.Redact(ex.Message)})";
        }
        if (stream.Documents.Count == 0)
        {
            return null;
        }
        var root = stream.Documents[0].RootNode;
        if (root is not YamlMappingNode top)
        {
            return root is YamlScalarNode { Value: null or "" or "~" or "null" }
                ? null
                : $"line {root.Start.Line}: the file holds {Kind(root)}, where a task file holds keys and values (task: shop, source: ..., target: ...)";
        }
        return FindIn(top, Keys, "");
    }

    private static string? FindIn(YamlMappingNode node, Dictionary<string, Type> keys, string parent)
    {
        foreach (var (keyNode, value) in node.Children)
        {
            var key = (keyNode as YamlScalarNode)?.Value ?? "";
            if (!keys.TryGetValue(key, out var type))
            {
                return $"line {keyNode.Start.Line}: unknown key '{parent}{key}'; the keys{(parent.Length > 0 ? $" under {parent.TrimEnd('.')}" : "")} are {string.Join(", ", keys.Keys)}";
            }
            var expected = Expected(type);
            var problem = Check(value, type);
            if (problem is not null)
            {
                return $"line {value.Start.Line}: {parent}{key} must be {expected}, not {problem}";
            }
            if (type == typeof(TaskFile.MappingSection) && value is YamlMappingNode section)
            {
                if (FindIn(section, MappingKeys, $"{parent}{key}.") is { } inner)
                {
                    return inner;
                }
            }
        }
        return null;
    }

    /// <summary>What is wrong with <paramref name="value"/> for a setting of <paramref name="type"/>, in words; null when it fits.</summary>
    private static string? Check(YamlNode value, Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (value is YamlScalarNode { Value: null or "" or "~" or "null", Style: ScalarStyle.Plain })
        {
            return null;
        }
        if (type == typeof(string) || type == typeof(int) || type == typeof(double) || type == typeof(bool))
        {
            if (value is not YamlScalarNode scalar)
            {
                return Kind(value);
            }
            var text = scalar.Value ?? "";
            var fits = type == typeof(string)
                || type == typeof(int) && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
                || type == typeof(double) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                || type == typeof(bool) && text is "true" or "false" or "True" or "False" or "TRUE" or "FALSE";
            return fits ? null : $"'{Redactor.Redact(text)}'";
        }
        if (type == typeof(List<string>))
        {
            return value is YamlSequenceNode seq
                ? seq.Children.FirstOrDefault(c => c is not YamlScalarNode) is { } item ? $"a list holding {Kind(item)} at line {item.Start.Line}" : null
                : Kind(value);
        }
        if (type == typeof(Dictionary<string, string>))
        {
            return value is YamlMappingNode map
                ? map.Children.FirstOrDefault(c => c.Value is not YamlScalarNode) is { Key: var k, Value: var v } && v is not null ? $"a mapping whose '{k}' holds {Kind(v)} at line {v.Start.Line}" : null
                : Kind(value);
        }
        return value is YamlMappingNode ? null : Kind(value);
    }

    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(int) ? "a whole number (e.g. 4)"
            : type == typeof(double) ? "a number (e.g. 1024 or 0.5)"
            : type == typeof(bool) ? "true or false"
            : type == typeof(string) ? "a text value"
            : type == typeof(List<string>) ? "a list of text values ([a, b], or one '- a' per line)"
            : type == typeof(Dictionary<string, string>) ? "a mapping of names to new names (old: new, one per line)"
            : "a mapping with the keys " + string.Join(", ", MappingKeys.Keys);
    }

    private static string Kind(YamlNode node) => node switch
    {
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping (key: value lines)",
        YamlScalarNode s => $"the single value '{Redactor.Redact(s.Value ?? "")}'",
        _ => "something else",
    };

    private static Dictionary<string, Type> KeysOf(Type type) => type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanWrite)
        .ToDictionary(p => UnderscoredNamingConvention.Instance.Apply(p.Name), p => p.PropertyType, StringComparer.Ordinal);
}
