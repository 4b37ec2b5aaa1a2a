"""The run report: one offline HTML page of charts (or its figures as JSON), computed from a
store's rows (``corral report STORE``). It reads the store only, beside a run still writing."""
