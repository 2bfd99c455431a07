-- SPDX-License-Identifier: Apache-2.0
-- 004_touch.sql: one function sets updated_at.
--
-- 001_core made sg_registry_touch() for the eight registry tables and
-- 002_access an identical sg_touch_updated_at() for principals.  An applied
-- migration is never edited, so this one points the registry's triggers at
-- sg_touch_updated_at() (the name that says what it does, for any table)
-- and drops the spare.  Nothing else changes: every trigger still runs
-- BEFORE UPDATE FOR EACH ROW.

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['models', 'shields', 'vector_dbs', 'datasets', 'scoring_functions', 'benchmarks',
				 'tool_groups', 'tools'] LOOP
		EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW'
			       ' EXECUTE FUNCTION sg_touch_updated_at()', t || '_touch', t);
	END LOOP;
END
$$;

DROP FUNCTION sg_registry_touch();
