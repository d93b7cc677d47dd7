-- The seed's dashboard views, by their original names, columns and types (its DDL script), over our tables, so a
-- frontend that ran SQL on the seed's database runs unchanged; and the sums behind the year ranges of /v1/stats.
-- Everything here reads tables only, never the objects of 900_views.sql: that file drops its views with CASCADE,
-- which would take these along. Each materialized view has a UNIQUE index on plain columns (REFRESH CONCURRENTLY).
-- Re-runnable: everything is dropped and rebuilt from the tables.
SET LOCAL search_path TO estudiapp, public;

DROP MATERIALIZED VIEW IF EXISTS period_department_totals, period_institution_totals, institution_department,
                                  period_nationality_totals, period_exam_place_totals, period_department_factors,
                                  student_social_factors CASCADE;
DROP VIEW IF EXISTS published_full_result CASCADE;

-- published_result of 900_views.sql, which that file may drop: status PUBLICAR, or no status column in the file
CREATE VIEW published_full_result AS
SELECT r.*, r.periodo / 10 AS year
FROM exam_result r
WHERE r.punt_global IS NOT NULL
  AND (r.estu_estadoinvestigacion IS NULL OR r.estu_estadoinvestigacion = 'PUBLICAR');

-- Sums and counts, not means, so that any range of periods adds up exactly.
CREATE MATERIALIZED VIEW period_department_totals AS
SELECT periodo AS period, estu_cod_reside_depto AS department_code, count(*) AS students,
       sum(punt_global::float8) AS score_sum, max(punt_global)::float8 AS max_score, min(punt_global)::float8 AS min_score
FROM published_full_result
GROUP BY periodo, estu_cod_reside_depto;
CREATE UNIQUE INDEX period_department_totals_key ON period_department_totals (period, department_code) NULLS NOT DISTINCT;

CREATE MATERIALIZED VIEW period_institution_totals AS
SELECT periodo AS period, inst_cod_institucion AS institution_code, count(*) AS students, sum(punt_global::float8) AS score_sum
FROM published_full_result
WHERE inst_cod_institucion IS NOT NULL
GROUP BY periodo, inst_cod_institucion;
CREATE UNIQUE INDEX period_institution_totals_key ON period_institution_totals (period, institution_code);

-- The files we read do not say where an institution is; its department is where most of its students took the
-- exam (else where most of them live), ties to the lowest code.
CREATE MATERIALIZED VIEW institution_department AS
SELECT inst_cod_institucion AS institution_code,
       mode() WITHIN GROUP (ORDER BY coalesce(d.code, estu_cod_reside_depto)) AS department_code
FROM published_full_result r
LEFT JOIN department d ON d.code = r.estu_cod_depto_presentacion
WHERE inst_cod_institucion IS NOT NULL
GROUP BY inst_cod_institucion;
CREATE UNIQUE INDEX institution_department_key ON institution_department (institution_code);

CREATE MATERIALIZED VIEW period_nationality_totals AS
SELECT periodo AS period, estu_nacionalidad AS nationality, foreign_national::text AS foreign_national,
       estu_cod_reside_depto AS department_code, count(*) AS students, sum(punt_global::float8) AS score_sum
FROM published_full_result
GROUP BY periodo, estu_nacionalidad, foreign_national, estu_cod_reside_depto;
CREATE UNIQUE INDEX period_nationality_totals_key ON period_nationality_totals (period, nationality, foreign_national, department_code) NULLS NOT DISTINCT;

CREATE MATERIALIZED VIEW period_exam_place_totals AS
SELECT periodo AS period, estu_cod_depto_presentacion AS department_code, count(*) AS students, sum(punt_global::float8) AS score_sum
FROM published_full_result
GROUP BY periodo, estu_cod_depto_presentacion;
CREATE UNIQUE INDEX period_exam_place_totals_key ON period_exam_place_totals (period, department_code) NULLS NOT DISTINCT;

-- Social factors by department of residence: INSE in bands of 10 points ('40-50' holds 40 <= INSE < 50; 100 is in
-- '90-100'), socio-economic level, program method, reference group, stratum, parents' education, internet, hours worked
-- and area of residence, in ICFES's order of answers (`position`); unanswered questions count as '(missing)'.
CREATE MATERIALIZED VIEW period_department_factors AS
WITH answered AS (
    SELECT r.periodo, r.estu_cod_reside_depto, r.punt_global,
           (CASE WHEN r.estu_inse_individual >= 90 THEN 90 ELSE floor(r.estu_inse_individual / 10) * 10 END)::integer AS inse_band,
           r.estu_nse_individual, p.method, r.gruporeferencia, r.fami_estratovivienda, r.fami_educacion_max,
           r.fami_tieneinternet, r.estu_horassemanatrabaja, r.estu_areareside
    FROM published_full_result r
    LEFT JOIN program p ON p.program_id = r.program_id
),
counted AS (
    SELECT periodo, estu_cod_reside_depto,
           CASE WHEN GROUPING(inse_band) = 0               THEN 'inse_band'
                WHEN GROUPING(estu_nse_individual) = 0     THEN 'socio_economic_level'
                WHEN GROUPING(method) = 0                  THEN 'program_method'
                WHEN GROUPING(gruporeferencia) = 0         THEN 'reference_group'
                WHEN GROUPING(fami_estratovivienda) = 0    THEN 'stratum'
                WHEN GROUPING(fami_educacion_max) = 0      THEN 'parents_education'
                WHEN GROUPING(fami_tieneinternet) = 0      THEN 'internet'
                WHEN GROUPING(estu_horassemanatrabaja) = 0 THEN 'hours_worked'
                WHEN GROUPING(estu_areareside) = 0         THEN 'area_of_residence' END AS factor,
           coalesce(inse_band || '-' || (inse_band + 10), estu_nse_individual::text, method::text, gruporeferencia::text,
                    fami_estratovivienda::text, fami_educacion_max::text, fami_tieneinternet::text,
                    estu_horassemanatrabaja::text, estu_areareside::text) AS label,
           coalesce(inse_band / 10 + 1,
                    array_position(enum_range(NULL::socio_economic_level), estu_nse_individual),
                    array_position(enum_range(NULL::program_method), method),
                    array_position(enum_range(NULL::reference_group), gruporeferencia),
                    array_position(enum_range(NULL::stratum), fami_estratovivienda),
                    array_position(enum_range(NULL::parent_education), fami_educacion_max),
                    array_position(enum_range(NULL::yes_no), fami_tieneinternet),
                    array_position(enum_range(NULL::hours_worked), estu_horassemanatrabaja),
                    array_position(enum_range(NULL::residence_area), estu_areareside)) AS position,
           count(*) AS students, sum(punt_global::float8) AS score_sum
    FROM answered
    GROUP BY GROUPING SETS ((periodo, estu_cod_reside_depto, inse_band), (periodo, estu_cod_reside_depto, estu_nse_individual),
                            (periodo, estu_cod_reside_depto, method), (periodo, estu_cod_reside_depto, gruporeferencia),
                            (periodo, estu_cod_reside_depto, fami_estratovivienda), (periodo, estu_cod_reside_depto, fami_educacion_max),
                            (periodo, estu_cod_reside_depto, fami_tieneinternet), (periodo, estu_cod_reside_depto, estu_horassemanatrabaja),
                            (periodo, estu_cod_reside_depto, estu_areareside))
)
SELECT periodo AS period, estu_cod_reside_depto AS department_code, factor, coalesce(label, '(missing)') AS label,
       coalesce(position, 99)::integer AS position, students, score_sum
FROM counted;
CREATE UNIQUE INDEX period_department_factors_key ON period_department_factors (period, department_code, factor, label) NULLS NOT DISTINCT;

-- The seed's names. Departments are joined as the seed joined them (a row without a known department is left out);
-- its codes were integers (5 for Antioquia). Institutions with fewer than 10 students in a year are left out, as in
-- institution_scores: their mean would expose individual results.
CREATE VIEW mv_getscorestats_v5 AS
SELECT d.code::integer                                   AS estu_cod_reside_depto_norm,
       d.name::varchar                                   AS dep_nombre,
       round((sum(t.score_sum) / sum(t.students))::numeric, 2) AS mean_punt_global,
       round(max(t.max_score)::numeric, 2)               AS max_punt_global,
       round(min(t.min_score)::numeric, 2)               AS min_punt_global,
       sum(t.students)::bigint                           AS count,
       (t.period / 10)::varchar                          AS year,
       c.rate                                            AS homdep_tasahomicidios
FROM period_department_totals t
JOIN department d ON d.code = t.department_code
LEFT JOIN department_context c ON c.department_code = d.code AND c.year = t.period / 10
GROUP BY t.period / 10, d.code, d.name, c.rate;

CREATE VIEW mv_getscore_perinst_v4 AS
SELECT i.name::varchar                                   AS university,
       d.name::text                                      AS state,
       round((sum(t.score_sum) / sum(t.students))::numeric, 2) AS meanscore,
       (t.period / 10)::numeric                          AS year,
       sum(t.students)::bigint                           AS totalstudents
FROM period_institution_totals t
JOIN institution i ON i.code = t.institution_code
LEFT JOIN institution_department id ON id.institution_code = t.institution_code
LEFT JOIN department d ON d.code = id.department_code
GROUP BY t.period / 10, i.code, i.name, d.name
HAVING sum(t.students) >= 10;

-- One row per student, as the seed's: materialized with the seed's types already cast, so that a frontend's filter on
-- year and department uses an index (a plain view's casts hid the indexes of exam_result: 212 ms p95 at 300k rows)
CREATE MATERIALIZED VIEW student_social_factors AS
SELECT r.estu_consecutivo AS student, r.periodo AS period,
       r.year::numeric                                   AS year,
       d.code::integer                                   AS estu_cod_reside_depto_norm,
       d.name::varchar                                   AS dep_nombre,
       r.estu_inse_individual::numeric                   AS estu_inse_individual,
       p.method::varchar                                 AS estu_metodo_prgm,
       r.gruporeferencia::varchar                        AS gruporeferencia,
       r.punt_global                                     AS punt_global
FROM published_full_result r
JOIN department d ON d.code = r.estu_cod_reside_depto
LEFT JOIN program p ON p.program_id = r.program_id;
CREATE UNIQUE INDEX student_social_factors_key ON student_social_factors (student, period);
CREATE INDEX student_social_factors_year_department ON student_social_factors (year, estu_cod_reside_depto_norm);

CREATE VIEW mv_getsocialfactors_v2 AS
SELECT year, estu_cod_reside_depto_norm, dep_nombre, estu_inse_individual, estu_metodo_prgm, gruporeferencia, punt_global
FROM student_social_factors;

CREATE VIEW mv_getstatsxgauges_v2 AS
SELECT (t.period / 10)::numeric                          AS year,
       t.nationality::varchar                            AS estu_nacionalidad,
       d.code::integer                                   AS estu_cod_reside_depto_norm,
       d.name::varchar                                   AS dep_nombre,
       (sum(t.score_sum) / sum(t.students))::numeric     AS prompuntglobal,
       sum(t.students)::bigint                           AS count
FROM period_nationality_totals t
JOIN department d ON d.code = t.department_code
GROUP BY t.period / 10, t.nationality, d.code, d.name;

CREATE VIEW mv_promedio_periodo_departament AS
SELECT t.period::varchar                                 AS periodo,
       d.code::integer                                   AS estu_cod_depto_presentacion_norm,
       d.name::varchar                                   AS dep_nombre,
       t.score_sum / t.students                          AS avg
FROM period_exam_place_totals t
JOIN department d ON d.code = t.department_code;
