-- The demo tenants' projects and tasks (after tenants.sql and `tenantgate migrate`, which
-- creates tenant_globex). Idempotent; run as the superuser by scripts/run.sh.
BEGIN;
INSERT INTO app.projects (tenant_id, id, name, created_by_user_id, created_at) VALUES
    ('a0000000-0000-4000-8000-0000000000ac', 'a1000000-0000-4000-8000-000000000001', 'Rocket skates', 'a5000000-0000-4000-8000-000000000001', '2026-11-01T09:00:00Z')
ON CONFLICT DO NOTHING;
INSERT INTO app.tasks (tenant_id, id, project_id, created_by_user_id, title, done, created_at) VALUES
    ('a0000000-0000-4000-8000-0000000000ac', 'a2000000-0000-4000-8000-000000000001', 'a1000000-0000-4000-8000-000000000001', 'a5000000-0000-4000-8000-000000000001', 'Order more rocket fuel', true,  '2026-11-01T09:00:00Z'),
    ('a0000000-0000-4000-8000-0000000000ac', 'a2000000-0000-4000-8000-000000000002', 'a1000000-0000-4000-8000-000000000001', 'a5000000-0000-4000-8000-000000000001', 'Test skates on a cliff', false, '2026-11-01T10:00:00Z')
ON CONFLICT DO NOTHING;

INSERT INTO tenant_globex.projects (tenant_id, id, name, created_by_user_id, created_at) VALUES
    ('b0000000-0000-4000-8000-0000000000b1', 'b1000000-0000-4000-8000-000000000001', 'Volcano lair', 'b5000000-0000-4000-8000-000000000001', '2026-11-02T09:00:00Z')
ON CONFLICT DO NOTHING;
INSERT INTO tenant_globex.tasks (tenant_id, id, project_id, created_by_user_id, title, done, created_at) VALUES
    ('b0000000-0000-4000-8000-0000000000b1', 'b2000000-0000-4000-8000-000000000001', 'b1000000-0000-4000-8000-000000000001', 'b5000000-0000-4000-8000-000000000001', 'Hire henchmen', false, '2026-11-02T09:00:00Z')
ON CONFLICT DO NOTHING;
COMMIT;
