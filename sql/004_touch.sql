-- SPDX-License-Identifier: Apache-2.0
-- 004_touch.sql: one function sets updated_at.
--
-- 001_core made sg_registry_touch() for the eight registry tables and
-- 002_access an identical sg_touch_updated_at() for principals.  An applied
-- migration is never edited, so this one points the registry's triggers at
-- sg_touch_updated_at() (the name that says what it does, for any table)
-- and drops the spare.  Nothing else changes: every trigger still runs
-- BEFORE UPDATE FOR EACH ROW.

CREATE OR REPLACE TRIGGER models_touch BEFORE UPDATE ON models
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();
CREATE OR REPLACE TRIGGER shields_touch BEFORE UPDATE ON shields
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();
CREATE OR REPLACE TRIGGER vector_dbs_touch BEFORE UPDATE ON vector_dbs
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();
CREATE OR REPLACE TRIGGER datasets_touch BEFORE UPDATE ON datasets
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();
CREATE OR REPLACE TRIGGER scoring_functions_touch BEFORE UPDATE ON scoring_functions
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();
CREATE OR REPLACE TRIGGER benchmarks_touch BEFORE UPDATE ON benchmarks
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();
CREATE OR REPLACE TRIGGER tool_groups_touch BEFORE UPDATE ON tool_groups
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();
CREATE OR REPLACE TRIGGER tools_touch BEFORE UPDATE ON tools
	FOR EACH ROW EXECUTE FUNCTION sg_touch_updated_at();

DROP FUNCTION sg_registry_touch();
