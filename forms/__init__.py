"""Import questionnaires written in other formats (XLSForm: ODK, KoboToolbox, SurveyCTO)."""
