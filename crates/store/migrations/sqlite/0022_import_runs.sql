-- How many times an import has been run: 1 when started, one more each time a node takes over
-- one whose server stopped (its file is in `import_files`), up to a bound. A run writes its
-- progress and its end only while it is the latest, so a server thought stopped cannot overwrite
-- the run that took over.
ALTER TABLE imports ADD COLUMN runs INTEGER NOT NULL DEFAULT 0;
