"""The Streamlit dashboard: entry point `streamlit_app.py`, shared pieces here, one module per page in views/.

Only this package (and streamlit_app.py) imports streamlit. Pages call `finsent.service` and `finsent.output.charts`.
"""
