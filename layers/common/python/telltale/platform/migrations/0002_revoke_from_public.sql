-- Internal queries log in as per-tenant roles that are members of nothing (telltale/connectors/internal.py):
-- a tenant holds exactly what PUBLIC holds, plus its own schema. So PUBLIC loses here what a tenant must not
-- touch: the database's CONNECT and TEMPORARY (temporary tables; tenant roles get CONNECT one by one), the
-- public schema (pg_stat_statements lives there), and every privilege on the platform's schemas and their
-- tables, sequences and functions. Schemas and tables the platform creates later give PUBLIC nothing by
-- default; functions would (EXECUTE), hence the default privileges below.
-- What PUBLIC keeps is what this role cannot take away: the system catalogs belong to the bootstrap
-- superuser (docs/queries.md says what a tenant can still see there).
DO $$
DECLARE
    s record;
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    FOR s IN SELECT nspname FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' AND nspname NOT LIKE 'tenant\_%'
               AND pg_has_role(nspowner, 'USAGE')
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', s.nspname);
    END LOOP;
    -- The objects in them the platform owns (an extension's, such as pg_stat_statements in public, belong to
    -- the superuser who created it: unreachable now without USAGE on their schema).
    FOR s IN SELECT c.oid::regclass::text AS name, CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND pg_has_role(c.relowner, 'USAGE')
               AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'tenant\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON %s %s FROM PUBLIC', s.kind, s.name);
    END LOOP;
    FOR s IN SELECT p.oid::regprocedure::text AS name
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE pg_has_role(p.proowner, 'USAGE')
               AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'tenant\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', s.name);
    END LOOP;
END
$$;

ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
