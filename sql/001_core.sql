-- SPDX-License-Identifier: Apache-2.0
-- 001_core.sql: placeholder
SELECT 1;
