using PgShift.IntegrationTests.Infrastructure;

namespace PgShift.IntegrationTests.LargeObjects;

/// <summary>Large objects of every kind a migration must carry, the changes made to them while a task streams, and how to compare two databases' objects.</summary>
public static class LargeObjectFixture
{
    /// <summary>
    /// A table that refers to them, and the objects: a small one, one over 5 MB, one with a comment, one owned by
    /// another role that grants privileges (one with grant option), an empty one, and one to be unlinked later.
    /// </summary>
    public static string Before(string owner, string reader) => $"""
        CREATE TABLE docs (id int PRIMARY KEY, body oid);
        SELECT lo_from_bytea(910001, convert_to('small object', 'UTF8'));
        SELECT lo_from_bytea(910002, convert_to(string_agg(md5(g::text), '' ORDER BY g), 'UTF8')) FROM generate_series(1, 200000) g;
        SELECT lo_from_bytea(910003, '\x00ff00ff'::bytea);
        COMMENT ON LARGE OBJECT 910003 IS 'a comment with ''quotes'' and ünïcode';
        SELECT lo_from_bytea(910004, convert_to(repeat('owned by another role ', 1000), 'UTF8'));
        ALTER LARGE OBJECT 910004 OWNER TO {owner};
        GRANT SELECT ON LARGE OBJECT 910004 TO {reader};
        GRANT UPDATE ON LARGE OBJECT 910004 TO {reader} WITH GRANT OPTION;
        SELECT lo_create(910005);
        SELECT lo_from_bytea(910006, convert_to('to be unlinked', 'UTF8'));
        INSERT INTO docs VALUES (1, 910001), (2, 910002), (3, 910003), (4, 910004), (5, 910005), (6, 910006);
        """;

    /// <summary>While the task streams: objects created, written in place (same size) and beyond their end, unlinked, given a new owner, privileges and comment.</summary>
    public static string During(string owner, string reader) => $"""
        SELECT lo_from_bytea(910010, convert_to('created during the stream', 'UTF8'));
        INSERT INTO docs VALUES (10, lo_from_bytea(0, convert_to('server-assigned oid', 'UTF8')));
        SELECT lo_put(910002, 3000000, convert_to('CHANGED IN PLACE', 'UTF8'));
        SELECT lo_put(910001, 5, convert_to(' object, and more after its end', 'UTF8'));
        SELECT lo_unlink(910006);
        DELETE FROM docs WHERE id = 6;
        ALTER LARGE OBJECT 910003 OWNER TO {owner};
        GRANT SELECT ON LARGE OBJECT 910005 TO PUBLIC;
        REVOKE UPDATE ON LARGE OBJECT 910004 FROM {reader} CASCADE;
        COMMENT ON LARGE OBJECT 910004 IS 'commented later';
        COMMENT ON LARGE OBJECT 910003 IS NULL;
        """;

    /// <summary>Every large object of a database: OID, owner, privileges (sorted, with grantor), comment, size and MD5 of its content.</summary>
    public const string Describe = """
        SELECT coalesce(string_agg(format('%s owner=%s acl=[%s] comment=%s size=%s md5=%s', m.oid, pg_get_userbyid(m.lomowner),
                   (SELECT string_agg(format('%s:%s:%s:%s', pg_get_userbyid(a.grantor), CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                                             a.privilege_type, a.is_grantable), ',' ORDER BY 1)
                      FROM aclexplode(coalesce(m.lomacl, acldefault('L', m.lomowner))) a),
                   coalesce(obj_description(m.oid, 'pg_largeobject'), '-'), length(lo_get(m.oid)), md5(lo_get(m.oid))), E'\n' ORDER BY m.oid), '')
        FROM pg_largeobject_metadata m
        """;

    public static async Task AssertSameAsync(TestServer source, string sourceDb, TestServer target, string targetDb)
    {
        var expected = await source.ScalarAsync<string>(sourceDb, Describe);
        Assert.False(string.IsNullOrEmpty(expected), "the source holds no large objects");
        Assert.Equal(expected, await target.ScalarAsync<string>(targetDb, Describe));
    }
}
