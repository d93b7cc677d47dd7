-- The full layout's facts (ICFES's national files, about 105 columns): the socio-economic index, nationality,
-- reference group, area of residence, semester and where the exam was taken; and the homicide context of each
-- department and year. Files without them (the 57-column export) leave the columns NULL.
-- Columns are added, never re-created, so a database loaded before this file keeps its rows.
SET LOCAL search_path TO estudiapp, public;

ALTER TABLE exam_result
    ADD COLUMN IF NOT EXISTS estu_inse_individual         real CONSTRAINT exam_result_estu_inse_individual_range CHECK (estu_inse_individual BETWEEN 1 AND 100),
    ADD COLUMN IF NOT EXISTS estu_nse_individual          socio_economic_level,
    ADD COLUMN IF NOT EXISTS estu_nacionalidad            text,
    ADD COLUMN IF NOT EXISTS foreign_national             yes_no,
    ADD COLUMN IF NOT EXISTS gruporeferencia              reference_group,
    ADD COLUMN IF NOT EXISTS estu_areareside              residence_area,
    ADD COLUMN IF NOT EXISTS estu_semestrecursa           semester,
    -- abroad, the files write their own codes (0000): no foreign key, the views join the departments they know
    ADD COLUMN IF NOT EXISTS estu_cod_depto_presentacion  text,
    ADD COLUMN IF NOT EXISTS estu_cod_mcpio_presentacion  text;
COMMENT ON COLUMN exam_result.estu_inse_individual IS 'the student''s socio-economic index (INSE, 1-100)';
COMMENT ON COLUMN exam_result.foreign_national IS 'Si when the nationality is not COLOMBIA (derived by the ingest)';
COMMENT ON COLUMN exam_result.gruporeferencia IS 'ICFES''s reference group of the program (from ESTU_NUCLEO_PREGRADO when a file lacks it)';
COMMENT ON COLUMN exam_result.estu_cod_depto_presentacion IS 'DANE code of the department where the exam was taken';

-- The seed's homdep_tasahomicidios: homicides per 100,000 people of a department in a year (estudiapp_core.context,
-- package data from Medicina Legal and DANE); the loader writes it.
CREATE TABLE IF NOT EXISTS department_context (
    department_code  text NOT NULL REFERENCES department (code),
    year             integer NOT NULL CHECK (year BETWEEN 2000 AND 2099),
    homicides        integer NOT NULL CHECK (homicides >= 0),
    population       integer NOT NULL CHECK (population > 0),
    rate             double precision NOT NULL CONSTRAINT department_context_rate_non_negative CHECK (rate >= 0),
    PRIMARY KEY (department_code, year)
);
COMMENT ON TABLE department_context IS 'Homicides, population and homicide rate per 100,000 people by department and year';
