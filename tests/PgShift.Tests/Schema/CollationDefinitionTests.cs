using System.Text.Json;
using PgShift.Schema;

namespace PgShift.Tests.Schema;

/// <summary>pg_collation rows as each major's to_jsonb gives them, written for each target major.</summary>
public sealed class CollationDefinitionTests
{
    // The rows below are what PostgreSQL 12, 15 and 17 hold for
    // CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false).
    private const string Icu12 = """{"collname": "ci", "collprovider": "i", "collcollate": "und-u-ks-level2", "collctype": "und-u-ks-level2", "collversion": "153.80", "collisdeterministic": false}""";
    private const string Icu15 = """{"collname": "ci", "collprovider": "i", "collcollate": null, "collctype": null, "colliculocale": "und-u-ks-level2", "collversion": "153.120", "collisdeterministic": false}""";
    private const string Icu17 = """{"collname": "ci", "collprovider": "i", "collcollate": null, "collctype": null, "colllocale": "und-u-ks-level2", "collicurules": null, "collversion": "153.80", "collisdeterministic": false}""";

    private static CollationDefinition.Result For(string json, int targetMajor)
    {
        using var doc = JsonDocument.Parse(json);
        return CollationDefinition.For(doc.RootElement, targetMajor);
    }

    [Theory]
    [InlineData(Icu12, 12)]
    [InlineData(Icu12, 15)]
    [InlineData(Icu12, 17)]
    [InlineData(Icu15, 15)]
    [InlineData(Icu15, 17)]
    [InlineData(Icu17, 17)]
    public void An_icu_collation_is_written_with_its_locale_whichever_column_the_source_keeps_it_in(string row, int target)
    {
        var result = For(row, target);

        Assert.Null(result.SkipReason);
        Assert.Equal("provider = icu, locale = 'und-u-ks-level2', deterministic = false", result.Options);
    }

    [Fact]
    public void The_version_is_left_for_the_target_to_record()
    {
        Assert.DoesNotContain("version", For(Icu12, 17).Options, StringComparison.Ordinal);
    }

    [Fact]
    public void Icu_rules_are_written_for_16_and_later_and_skipped_with_the_reason_before()
    {
        const string row = """{"collprovider": "i", "colllocale": "und", "collicurules": "&a < g", "collisdeterministic": true}""";

        Assert.Equal("provider = icu, locale = 'und', rules = '&a < g'", For(row, 17).Options);
        var older = For(row, 15);
        Assert.Null(older.Options);
        Assert.Contains("ICU tailoring rules need PostgreSQL 16 or later on the target, which runs 15", older.SkipReason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"collprovider": "c", "collcollate": "C.UTF-8", "collctype": "C.UTF-8", "collisdeterministic": true}""", "provider = libc, locale = 'C.UTF-8'")]
    [InlineData("""{"collprovider": "c", "collcollate": "fr_FR.utf8", "collctype": "C.UTF-8", "colllocale": null}""", "provider = libc, lc_collate = 'fr_FR.utf8', lc_ctype = 'C.UTF-8'")]
    [InlineData("""{"collprovider": "c", "collcollate": "it's", "collctype": "it's"}""", "provider = libc, locale = 'it''s'")]
    public void A_libc_collation_says_locale_when_collate_and_ctype_agree(string row, string expected)
    {
        Assert.Equal(expected, For(row, 17).Options);
    }

    [Fact]
    public void A_builtin_collation_goes_to_17_and_later_and_is_skipped_with_the_reason_before()
    {
        const string row = """{"collprovider": "b", "collcollate": null, "collctype": null, "colllocale": "C.UTF-8", "collisdeterministic": true}""";

        Assert.Equal("provider = builtin, locale = 'C.UTF-8'", For(row, 17).Options);
        var older = For(row, 15);
        Assert.Null(older.Options);
        Assert.Contains("builtin collation provider (locale C.UTF-8) needs PostgreSQL 17 or later on the target, which runs 15", older.SkipReason, StringComparison.Ordinal);
        Assert.Contains("PostgreSQL 18", For("""{"collprovider": "b", "colllocale": "PG_UNICODE_FAST"}""", 17).SkipReason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_nondeterministic_collation_is_skipped_with_the_reason_for_a_target_before_12()
    {
        var result = For(Icu12, 11);

        Assert.Null(result.Options);
        Assert.Contains("nondeterministic collation needs PostgreSQL 12 or later on the target, which runs 11", result.SkipReason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_source_before_12_has_no_deterministic_column_and_its_collations_are_deterministic()
    {
        const string row = """{"collprovider": "i", "collcollate": "de-u-co-phonebk", "collctype": "de-u-co-phonebk"}""";

        Assert.Equal("provider = icu, locale = 'de-u-co-phonebk'", For(row, 11).Options);
    }
}
