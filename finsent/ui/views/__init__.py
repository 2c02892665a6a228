"""One module per dashboard page, run by `st.navigation` (this folder is deliberately not named `pages`)."""
