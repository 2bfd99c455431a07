-- SPDX-License-Identifier: Apache-2.0
-- 002_access.sql: placeholder
SELECT 1;
