using PgShift.Schema;

namespace PgShift.Tests.Schema;

public sealed class RoutineReaderTests
{
    private const string Definition = """
        CREATE OR REPLACE FUNCTION app.f(a text DEFAULT ' SET x TO 1'::text)
         RETURNS integer
         LANGUAGE sql
         SET operator_precedence_warning TO 'on'
         SET search_path TO 'pg_catalog', 'pg_temp'
        AS $function$SELECT 1 -- SET operator_precedence_warning TO 'on'
         SET operator_precedence_warning TO 'on'
        $function$
        """;

    [Fact]
    public void Without_settings_removes_only_the_header_lines_that_set_those_parameters()
    {
        var result = RoutineReader.WithoutSettings(Definition, ["operator_precedence_warning"]);

        Assert.Equal(Definition.Replace(" SET operator_precedence_warning TO 'on'\n SET search_path", " SET search_path", StringComparison.Ordinal), result);
        Assert.Contains("AS $function$SELECT 1 -- SET operator_precedence_warning TO 'on'\n SET operator_precedence_warning TO 'on'\n", result, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_settings_of_none_is_the_definition_itself()
    {
        Assert.Same(Definition, RoutineReader.WithoutSettings(Definition, []));
    }

    [Theory]
    [InlineData("anyelement", "anycompatible")]
    [InlineData("anyarray, anyelement", "anycompatiblearray, anycompatible")]
    [InlineData("app.anyarray_ish, anynonarray", "app.anyarray_ish, anynonarray")]
    public void To_any_compatible_changes_the_two_polymorphic_types_PostgreSQL_14_split(string types, string expected)
    {
        Assert.Equal(expected, RoutineReader.ToAnyCompatible(types));
    }
}
