"""What the pages share: Streamlit-side helpers (mlcore never imports Streamlit)."""
