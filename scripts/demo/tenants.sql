-- The two demo tenants, their routing entries, users and roles. Idempotent: run by
-- scripts/run.sh on every start, as the superuser (platform operations on tenant rows
-- need BYPASSRLS; see migrations/README.md), before `tenantgate migrate` prepares their
-- placements: acme lives in the shared database, globex in a schema of its own
-- (tenant_globex). Fixed ids keep the README's example output stable; a real tenant is
-- made with `tenantgate tenant create`. Their projects and tasks are in data.sql.
BEGIN;
INSERT INTO tenantgate.tenants (id, slug, name, plan) VALUES
    ('a0000000-0000-4000-8000-0000000000ac', 'acme',   'Acme Corp',  'pro'),
    ('b0000000-0000-4000-8000-0000000000b1', 'globex', 'Globex Inc', 'enterprise')
ON CONFLICT (id) DO NOTHING;
INSERT INTO tenantgate.tenant_placements (tenant_id, placement, schema_name) VALUES
    ('a0000000-0000-4000-8000-0000000000ac', 'shared', NULL),
    ('b0000000-0000-4000-8000-0000000000b1', 'schema', 'tenant_globex')
ON CONFLICT (tenant_id) DO NOTHING;
-- The system roles (owner, admin, member) with their permissions (migration 0010).
SELECT tenantgate.seed_system_roles(t.id) FROM tenantgate.tenants AS t WHERE t.slug IN ('acme', 'globex');
INSERT INTO tenantgate.users (id, email, display_name) VALUES
    ('a5000000-0000-4000-8000-000000000001', 'alice@acme.example',  'Alice Admin'),
    ('a5000000-0000-4000-8000-000000000002', 'carol@acme.example',  'Carol Coder'),
    ('b5000000-0000-4000-8000-000000000001', 'bob@globex.example',  'Bob Builder'),
    ('b5000000-0000-4000-8000-000000000002', 'gina@globex.example', 'Gina Globex')
ON CONFLICT DO NOTHING;
-- acme: alice owns it, carol is a member; globex: bob owns it, gina and alice are members (alice can switch).
INSERT INTO tenantgate.memberships (tenant_id, user_id, role_name) VALUES
    ('a0000000-0000-4000-8000-0000000000ac', 'a5000000-0000-4000-8000-000000000001', 'owner'),
    ('a0000000-0000-4000-8000-0000000000ac', 'a5000000-0000-4000-8000-000000000002', 'member'),
    ('b0000000-0000-4000-8000-0000000000b1', 'b5000000-0000-4000-8000-000000000001', 'owner'),
    ('b0000000-0000-4000-8000-0000000000b1', 'b5000000-0000-4000-8000-000000000002', 'member'),
    ('b0000000-0000-4000-8000-0000000000b1', 'a5000000-0000-4000-8000-000000000001', 'member')
ON CONFLICT DO NOTHING;
-- Verified email domains, so the demo IdPs' users can join by just-in-time membership.
INSERT INTO tenantgate.tenant_domains (tenant_id, domain, verification_token, verified_at) VALUES
    ('a0000000-0000-4000-8000-0000000000ac', 'acme.example',   'demo-token-acme-example',   now()),
    ('b0000000-0000-4000-8000-0000000000b1', 'globex.example', 'demo-token-globex-example', now())
ON CONFLICT DO NOTHING;
-- Limits a person can see work: acme (pro) lets each anonymous client make 300 requests a
-- minute with a burst of 100, so a few hundred requests in a row meet 429s; globex keeps
-- its plan's (enterprise). Change them with `tenantgate tenant limits acme ...`.
INSERT INTO tenantgate.tenant_limits (tenant_id, limits) VALUES
    ('a0000000-0000-4000-8000-0000000000ac',
     '{"client": {"requests": 300, "per_seconds": 60, "burst": 100}}')
ON CONFLICT (tenant_id) DO NOTHING;
COMMIT;
