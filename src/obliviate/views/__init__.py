"""Everything that shows results: plain-text tables and verdicts, the HTML report and the
dashboard. They read records (``obliviate.storage``) only; none imports a method."""
