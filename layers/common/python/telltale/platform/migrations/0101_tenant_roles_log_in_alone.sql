-- Internal queries no longer switch the platform connection to the tenant's reader role (SET LOCAL ROLE):
-- the tenant role logs in itself (telltale/connectors/internal.py). The grants that made the platform user
-- a member of each reader role go; the creator's ADMIN option (no INHERIT, no SET) stays, so that the
-- platform can still reset the role's password. The roles become LOGIN roles on their tenant's next query.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT m.roleid::regrole::text AS role
             FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
             WHERE r.rolname LIKE 'tenant\_%\_reader'
               AND m.member = current_user::text::regrole AND m.grantor = current_user::text::regrole
    LOOP
        EXECUTE format('REVOKE %s FROM %I', g.role, current_user);
    END LOOP;
END
$$;
