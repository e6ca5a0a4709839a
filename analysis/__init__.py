"""The analysis layer: every figure of a consultation, computed once from its responses.

Pure functions and small accumulators over rows (`dialogs.Answer` values keyed by question id):
no SQL, no Telegram, no files. `storage/` streams the rows in; the outputs (`/stats`,
`consultbot stats`, the HTML report, the exports) render what is computed here, so one figure is
the same everywhere.

- `analysis.tally`: the counts of every question (one key per category, whatever the output);
- `analysis.stats`: the admins' figures (statuses, drop-off, days) with those counts;
- `analysis.crosstab`: a question broken down by the groups of a single-choice question, with a
  test of independence and its effect size;
- `analysis.suppress`: safe publication (cells under K hidden, with secondary suppression);
- `analysis.themes`: themes in free texts (TF-IDF + NMF), deterministic.
"""
