-- Dashboard views. Each materialized view has a UNIQUE index on plain columns, so
-- `REFRESH MATERIALIZED VIEW CONCURRENTLY` (`estudiapp db refresh`) works while the dashboard reads it.
-- Re-runnable: everything is dropped and rebuilt from the tables.
SET LOCAL search_path TO estudiapp, public;

DROP MATERIALIZED VIEW IF EXISTS department_scores, institution_scores, score_trend, social_factors, risk_by_area,
                                  risk_by_department, risk_by_institution CASCADE;
DROP VIEW IF EXISTS published_result, latest_model_run CASCADE;

-- ICFES publishes a result only when its status is PUBLICAR; files without the status column count every row.
CREATE VIEW published_result AS
SELECT *
FROM exam_result
WHERE punt_global IS NOT NULL
  AND (estu_estadoinvestigacion IS NULL OR estu_estadoinvestigacion = 'PUBLICAR');

CREATE VIEW latest_model_run AS
SELECT model_version
FROM model_run
ORDER BY trained_at DESC NULLS LAST, loaded_at DESC, model_version DESC
LIMIT 1;

-- Map and cards: mean, maximum and minimum global score by department and period, with the municipal context rate
-- averaged over the department's students.
CREATE MATERIALIZED VIEW department_scores AS
SELECT r.periodo                                          AS period,
       d.code                                             AS department_code,
       d.name                                             AS department,
       count(*)::integer                                  AS students,
       round(avg(r.punt_global)::numeric, 1)::float8      AS mean_score,
       max(r.punt_global)::float8                         AS max_score,
       min(r.punt_global)::float8                         AS min_score,
       round(avg(c.context_rate)::numeric, 1)::float8     AS context_rate
FROM published_result r
JOIN department d ON d.code = r.estu_cod_reside_depto
LEFT JOIN municipal_context c ON c.municipality_code = r.estu_cod_reside_mcpio AND c.year = r.periodo / 10
GROUP BY r.periodo, d.code, d.name;
CREATE UNIQUE INDEX department_scores_key ON department_scores (period, department_code);

-- Institutions with fewer than 10 students in a period are left out: their mean is noise (the seed's top 5 listed an
-- institution with a single student) and would expose individual results. Queries may ask for more.
CREATE MATERIALIZED VIEW institution_scores AS
SELECT r.periodo                                          AS period,
       i.code                                             AS institution_code,
       i.name                                             AS institution,
       i.character::text                                  AS character,
       i.origin::text                                     AS origin,
       count(*)::integer                                  AS students,
       round(avg(r.punt_global)::numeric, 1)::float8      AS mean_score,
       max(r.punt_global)::float8                         AS max_score,
       min(r.punt_global)::float8                         AS min_score
FROM published_result r
JOIN institution i ON i.code = r.inst_cod_institucion
GROUP BY r.periodo, i.code, i.name, i.character, i.origin
HAVING count(*) >= 10;
CREATE UNIQUE INDEX institution_scores_key ON institution_scores (period, institution_code);
CREATE INDEX institution_scores_ranking ON institution_scores (period, mean_score DESC);

-- Mean-score trend by period: the whole country (area_code 'CO') and each department (its DANE code).
CREATE MATERIALIZED VIEW score_trend AS
SELECT r.periodo AS period, 'CO' AS area_code, 'COLOMBIA' AS area,
       count(*)::integer AS students, round(avg(r.punt_global)::numeric, 1)::float8 AS mean_score
FROM published_result r
GROUP BY r.periodo
UNION ALL
SELECT r.periodo, d.code, d.name, count(*)::integer, round(avg(r.punt_global)::numeric, 1)::float8
FROM published_result r
JOIN department d ON d.code = r.estu_cod_reside_depto
GROUP BY r.periodo, d.code, d.name;
CREATE UNIQUE INDEX score_trend_key ON score_trend (area_code, period);

-- Social factors by period: students and mean score for each answer of stratum, parents' education, internet and
-- hours worked, in ICFES's order of answers (`position`, the enum's); unanswered questions count as '(missing)'.
-- One scan with a grouping set per factor; in each group only the grouped column is not NULL, hence the coalesces.
CREATE MATERIALIZED VIEW social_factors AS
WITH counted AS (
    SELECT periodo,
           CASE WHEN GROUPING(fami_estratovivienda) = 0    THEN 'stratum'
                WHEN GROUPING(fami_educacion_max) = 0      THEN 'parents_education'
                WHEN GROUPING(fami_educacionpadre) = 0     THEN 'father_education'
                WHEN GROUPING(fami_educacionmadre) = 0     THEN 'mother_education'
                WHEN GROUPING(fami_tieneinternet) = 0      THEN 'internet'
                WHEN GROUPING(estu_horassemanatrabaja) = 0 THEN 'hours_worked' END AS factor,
           coalesce(fami_estratovivienda::text, fami_educacion_max::text, fami_educacionpadre::text,
                    fami_educacionmadre::text, fami_tieneinternet::text, estu_horassemanatrabaja::text) AS label,
           coalesce(array_position(enum_range(NULL::stratum), fami_estratovivienda),
                    array_position(enum_range(NULL::parent_education), coalesce(fami_educacion_max, fami_educacionpadre, fami_educacionmadre)),
                    array_position(enum_range(NULL::yes_no), fami_tieneinternet),
                    array_position(enum_range(NULL::hours_worked), estu_horassemanatrabaja)) AS position,
           count(*) AS students,
           avg(punt_global) AS mean_score
    FROM published_result
    GROUP BY GROUPING SETS ((periodo, fami_estratovivienda), (periodo, fami_educacion_max), (periodo, fami_educacionpadre),
                            (periodo, fami_educacionmadre), (periodo, fami_tieneinternet), (periodo, estu_horassemanatrabaja))
)
SELECT periodo                                                 AS period,
       factor,
       coalesce(label, '(missing)')                            AS label,
       coalesce(position, 99)::integer                         AS position,
       students::integer                                       AS students,
       round((students * 100.0 / sum(students) OVER (PARTITION BY periodo, factor))::numeric, 1)::float8 AS percent,
       round(mean_score::numeric, 1)::float8                   AS mean_score
FROM counted;
CREATE UNIQUE INDEX social_factors_key ON social_factors (period, factor, label);

-- Risk of a low score, from the latest model run only: students per risk band by department and by institution
-- (`area_kind`), one pass over the predictions with a grouping set per kind of area. Institutions with fewer than 10
-- predicted students are left out, as in institution_scores: a band count of a tiny institution points at individuals.
CREATE MATERIALIZED VIEW risk_by_area AS
WITH banded AS (
    SELECT p.model_version,
           p.periodo,
           CASE WHEN GROUPING(r.estu_cod_reside_depto) = 0 THEN 'department' ELSE 'institution' END AS area_kind,
           coalesce(r.estu_cod_reside_depto, r.inst_cod_institucion) AS area_code,
           p.risk_band,
           count(*) AS students,
           avg(p.low_score_probability) AS mean_low_score_probability
    FROM prediction p
    JOIN latest_model_run m ON m.model_version = p.model_version
    JOIN exam_result r ON r.estu_consecutivo = p.estu_consecutivo AND r.periodo = p.periodo
    GROUP BY GROUPING SETS ((p.model_version, p.periodo, r.estu_cod_reside_depto, p.risk_band),
                            (p.model_version, p.periodo, r.inst_cod_institucion, p.risk_band))
),
areas AS (
    SELECT *, sum(students) OVER (PARTITION BY periodo, area_kind, area_code) AS area_students
    FROM banded
    WHERE area_code IS NOT NULL
)
SELECT a.model_version,
       a.periodo                                                         AS period,
       a.area_kind,
       a.area_code,
       coalesce(d.name, i.name, a.area_code)                             AS area,
       a.risk_band,
       a.students::integer                                               AS students,
       round((a.students * 100.0 / a.area_students)::numeric, 1)::float8 AS percent,
       round(a.mean_low_score_probability::numeric, 3)::float8           AS mean_low_score_probability
FROM areas a
LEFT JOIN department d ON a.area_kind = 'department' AND d.code = a.area_code
LEFT JOIN institution i ON a.area_kind = 'institution' AND i.code = a.area_code
WHERE a.area_kind = 'department' OR a.area_students >= 10;
CREATE UNIQUE INDEX risk_by_area_key ON risk_by_area (period, area_kind, area_code, risk_band);
