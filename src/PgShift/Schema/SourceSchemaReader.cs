using Npgsql;
using PgShift.Selection;

namespace PgShift.Schema;

/// <summary>
/// Reads the source catalog into the objects to create before the data, in dependency order, and the
/// statements to run after it, one family of object kinds per reader. The session runs with an empty search_path
/// so that the server's deparse functions (pg_get_viewdef, pg_get_functiondef, pg_get_constraintdef, ...) qualify
/// every name. Objects are generated under their source names; <see cref="SchemaMigrator"/> applies the name mapping
/// by renaming afterwards, so that everything PostgreSQL tracks by oid (views, defaults, constraints) follows.
/// </summary>
public sealed class SourceSchemaReader(NpgsqlConnection conn, SchemaMigrationOptions options)
{
    private SourceObjects _read = new(SelectedTables.From([], TableSelection.All));

    public List<string> Warnings => _read.Warnings;
    public List<SchemaObject> Skipped => _read.Skipped;

    /// <summary>Each object left out for a reason of its own, with those left out because they depend on it (read by <see cref="ReadPreDataAsync"/>).</summary>
    public List<(SchemaObject Cause, List<SchemaObject> Dependents)> SkipSummaries() => _read.SkipSummaries();

    /// <summary>Grants (other than the owner's), per object, to run on the target when the grantee exists there.</summary>
    public List<(SchemaObject Object, string Grantee, string Sql)> Grants => _read.Grants;

    /// <summary>Statements naming roles or needing privileges the target user may lack (policies, default privileges, publications), run after the grants.</summary>
    public List<RoleStatement> RoleStatements => _read.RoleStatements;

    /// <summary>The source's owner of each object (none with --no-owner), given on the target before the grants.</summary>
    public List<OwnerStatement> Owners => _read.Owners;

    /// <summary>Which relations are selected (read by <see cref="ReadPreDataAsync"/>, in its snapshot).</summary>
    public SelectedTables Selected => _read.Selected;

    public async Task<List<SchemaObject>> ReadPreDataAsync(CancellationToken ct)
    {
        await using (var cmd = new NpgsqlCommand("SET search_path = ''", conn))
        {
            await cmd.ExecuteNonQueryAsync(ct);
        }
        _read = new SourceObjects(await SelectedTables.LoadAsync(conn, options.Selection, ct));
        var namespaces = new NamespaceReader(conn, options, _read);
        var routines = new RoutineReader(conn, options, _read);
        var tables = new TableReader(conn, options, _read);
        var views = new ViewReader(conn, options, _read);
        var dependencies = new DependencyReader(conn, options, _read);
        // Extensions first: the others leave out what an extension creates. Sequences before tables: an identity
        // column is created with its sequence's options.
        await namespaces.ReadExtensionsAsync(ct);
        await namespaces.ReadSchemasAsync(ct);
        await namespaces.ReadCollationsAsync(ct);
        await new TypeReader(conn, options, _read).ReadTypesAsync(ct);
        await routines.ReadFunctionsAsync(ct);
        await tables.ReadSequencesAsync(ct);
        await new AccessMethodReader(conn, options, _read).ReadAsync(ct);
        await new ForeignDataReader(conn, options, _read).ReadAsync(ct);
        await tables.ReadTablesAsync(ct);
        await routines.ReadOperatorsAsync(ct);
        await routines.ReadAggregatesAsync(ct);
        await new CastReader(conn, options, _read).ReadCastsAsync(ct);
        await new OperatorClassReader(conn, options, _read).ReadOperatorClassesAsync(ct);
        await new TextSearchReader(conn, options, _read).ReadAsync(ct);
        await new TransformReader(conn, options, _read).ReadAsync(ct);
        await views.ReadViewsAsync(ct);
        await views.ReadMaterializedViewColumnsAsync(ct);
        await views.ReadRulesAsync(ct);
        await new StatisticsReader(conn, options, _read).ReadStatisticsAsync(ct);
        await new CommentReader(conn, options, _read).ReadCommentsAsync(ct);
        await new AddressedCommentReader(conn, options, _read).ReadCommentsAsync(ct);
        await new OwnerReader(conn, options, _read).ReadOwnersAsync(ct);
        await new GrantReader(conn, options, _read).ReadGrantsAsync(ct);
        await new SystemPrivilegeReader(conn, options, _read).ReadSystemPrivilegesAsync(ct);
        await dependencies.ReadDependenciesAsync(ct);
        dependencies.DropUnselectedDependents();
        // After the dependencies: a policy is left out when its table or anything its expressions use is.
        await new PolicyReader(conn, options, _read).ReadPoliciesAsync(ct);
        await new DefaultPrivilegeReader(conn, options, _read).ReadDefaultPrivilegesAsync(ct);
        await new PublicationReader(conn, options, _read).ReadPublicationsAsync(ct);
        return DependencyOrder.Sort(_read.Objects.Values.Where(o => o.SkipReason is null).ToList());
    }
}
