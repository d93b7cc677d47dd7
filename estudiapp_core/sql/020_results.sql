-- Exam results: one row per student and exam period, in the clean table's columns (ICFES names, lower case).
-- Names, institutions and programs live in the reference tables; a row keeps their codes. Answers are enum types.
SET LOCAL search_path TO estudiapp, public;

CREATE TABLE IF NOT EXISTS exam_result (
    estu_consecutivo                text NOT NULL CHECK (estu_consecutivo <> ''),
    periodo                         integer NOT NULL REFERENCES exam_period (period),
    estu_genero                     gender,
    estu_fechanacimiento            date,
    estu_cod_reside_depto           text REFERENCES department (code),
    estu_cod_reside_mcpio           text REFERENCES municipality (code),
    fami_estratovivienda            stratum,
    fami_educacionpadre             parent_education,
    fami_educacionmadre             parent_education,
    fami_educacion_max              parent_education,
    fami_tieneinternet              yes_no,
    fami_tienecomputador            yes_no,
    fami_tieneautomovil             yes_no,
    fami_tienelavadora              yes_no,
    estu_horassemanatrabaja         hours_worked,
    estu_valormatriculauniversidad  tuition,
    tuition_band                    tuition_band,
    estu_pagomatriculabeca          yes_no,
    estu_pagomatriculacredito       yes_no,
    estu_pagomatriculapadres        yes_no,
    estu_pagomatriculapropio        yes_no,
    inst_cod_institucion            text REFERENCES institution (code),
    program_id                      integer REFERENCES program (program_id),
    estu_estadoinvestigacion        text,
    mod_razona_cuantitat_punt       real CONSTRAINT exam_result_mod_razona_cuantitat_punt_range CHECK (mod_razona_cuantitat_punt BETWEEN 0 AND 300),
    mod_comuni_escrita_punt         real CONSTRAINT exam_result_mod_comuni_escrita_punt_range CHECK (mod_comuni_escrita_punt BETWEEN 0 AND 300),
    mod_lectura_critica_punt        real CONSTRAINT exam_result_mod_lectura_critica_punt_range CHECK (mod_lectura_critica_punt BETWEEN 0 AND 300),
    mod_ingles_punt                 real CONSTRAINT exam_result_mod_ingles_punt_range CHECK (mod_ingles_punt BETWEEN 0 AND 300),
    mod_competen_ciudada_punt       real CONSTRAINT exam_result_mod_competen_ciudada_punt_range CHECK (mod_competen_ciudada_punt BETWEEN 0 AND 300),
    mod_ingles_desem                english_level,
    punt_global                     real CONSTRAINT exam_result_punt_global_range CHECK (punt_global BETWEEN 0 AND 300),
    percentil_global                real CONSTRAINT exam_result_percentil_global_range CHECK (percentil_global BETWEEN 1 AND 100),
    age                             real CONSTRAINT exam_result_age_range CHECK (age BETWEEN 0 AND 120),
    CONSTRAINT exam_result_one_row_per_student_and_period PRIMARY KEY (estu_consecutivo, periodo)
);
COMMENT ON TABLE exam_result IS 'Saber Pro results: one row per student (ESTU_CONSECUTIVO) and exam period, as the clean table holds them';
COMMENT ON COLUMN exam_result.estu_cod_reside_depto IS 'DANE code of the department of residence';
COMMENT ON COLUMN exam_result.program_id IS 'the program, from ESTU_PRGM_ACADEMICO with its institution, method and level';
COMMENT ON COLUMN exam_result.fami_educacion_max IS 'highest of the parents'' education (derived by the ingest)';
COMMENT ON COLUMN exam_result.tuition_band IS 'tuition band: none, low, medium, high (derived by the ingest)';
COMMENT ON COLUMN exam_result.age IS 'age in whole years at the start of the exam year (derived by the ingest)';
