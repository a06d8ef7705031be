using System.Text.Json;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// A collation's CREATE COLLATION options in the target's dialect, from its pg_collation row read as JSON
/// (to_jsonb), whose columns differ between majors. Follows pg_dump's dumpCollation: the ICU locale is in
/// <c>colllocale</c> from 17, <c>colliculocale</c> in 15 and 16, and <c>collcollate</c> before; the target is
/// always told <c>locale = ...</c> for ICU (lc_collate/lc_ctype are refused there from 15, "parameter locale must
/// be specified"). The version is not copied: the target records the one its own library provides.
/// </summary>
internal static class CollationDefinition
{
    /// <summary>The text between the parentheses of CREATE COLLATION name (...); or why the target cannot have it.</summary>
    public readonly record struct Result(string? Options, string? SkipReason);

    public static Result For(JsonElement row, int targetMajor)
    {
        string? Text(string column) => ObjectFamilyReader.JsonText(row, column);
        var provider = Text("collprovider") ?? "c";
        var parts = new List<string>();
        switch (provider)
        {
            case "i":
                if (targetMajor < 10)
                {
                    return Skip($"an ICU collation needs PostgreSQL 10 or later on the target, which runs {targetMajor}");
                }
                var icuLocale = Text("colllocale") ?? Text("colliculocale") ?? Text("collcollate");
                if (icuLocale is null)
                {
                    return Skip("the source's catalog gives this ICU collation no locale");
                }
                parts.Add("provider = icu");
                parts.Add($"locale = {Sql.Literal(icuLocale)}");
                if (Text("collicurules") is { } rules)
                {
                    if (targetMajor < 16)
                    {
                        return Skip($"ICU tailoring rules need PostgreSQL 16 or later on the target, which runs {targetMajor}");
                    }
                    parts.Add($"rules = {Sql.Literal(rules)}");
                }
                break;
            case "b":
                var builtinLocale = Text("colllocale") ?? "";
                var needs = builtinLocale == "PG_UNICODE_FAST" ? 18 : 17;
                if (targetMajor < needs)
                {
                    return Skip($"the builtin collation provider (locale {builtinLocale}) needs PostgreSQL {needs} or later on the target, which runs {targetMajor}; "
                        + "create a libc or ICU collation of the same name on the target, or exclude what uses it");
                }
                parts.Add("provider = builtin");
                parts.Add($"locale = {Sql.Literal(builtinLocale)}");
                break;
            case "c":
                var collate = Text("collcollate") ?? "C";
                var ctype = Text("collctype") ?? "C";
                if (targetMajor >= 10)
                {
                    parts.Add("provider = libc");
                }
                parts.Add(collate == ctype ? $"locale = {Sql.Literal(collate)}" : $"lc_collate = {Sql.Literal(collate)}, lc_ctype = {Sql.Literal(ctype)}");
                break;
            default:
                return Skip($"its provider '{provider}' is the database default, which cannot be created");
        }
        if (row.TryGetProperty("collisdeterministic", out var deterministic) && deterministic.ValueKind == JsonValueKind.False)
        {
            if (targetMajor < 12)
            {
                return Skip($"a nondeterministic collation needs PostgreSQL 12 or later on the target, which runs {targetMajor}");
            }
            parts.Add("deterministic = false");
        }
        return new Result(string.Join(", ", parts), null);
    }

    private static Result Skip(string reason) => new(null, reason);
}
