using Npgsql;
using PgShift.Catalog;

namespace PgShift.Schema;

/// <summary>
/// Access methods not created by an extension (CREATE ACCESS METHOD ... HANDLER, as pg_dump's dumpAccessMethod). The
/// handler is named as the source has it: a built-in one (heap_tableam_handler) exists on the target; a user one written
/// in C cannot be created, and the method is left out with it, and so are the tables that use it.
/// </summary>
internal sealed class AccessMethodReader(NpgsqlConnection conn, SchemaMigrationOptions options, SourceObjects read) : AddressedObjectReader(conn, options, read)
{
    public async Task ReadAsync(CancellationToken ct)
    {
        await QueryAsync("SELECT a.oid, a.amname, a.amtype::text, a.amhandler::regproc::text FROM pg_am a WHERE a.oid >= 16384", r =>
        {
            var oid = r.GetFieldValue<uint>(0);
            if (FromExtension(oid))
            {
                return;
            }
            var name = Sql.Ident(r.GetString(1));
            var o = AddAddressed("pg_am", oid, "am", ObjectKind.AccessMethod, "", r.GetString(1), $"ACCESS METHOD {name}");
            var table = r.GetString(2) == "t";
            if (table && TargetMajor < 12)
            {
                Skip(o, $"a table access method needs PostgreSQL 12 or later (the target runs {TargetMajor})");
                return;
            }
            o.Statements.Add($"CREATE ACCESS METHOD {name} TYPE {(table ? "TABLE" : "INDEX")} HANDLER {r.GetString(3)}");
        }, ct);
    }
}
