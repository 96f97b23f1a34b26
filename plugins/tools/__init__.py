"""Build-time tools (not used at run time): model conversion and test fixtures."""
