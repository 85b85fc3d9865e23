"""`python -m dashboard`: serve the dashboard with the environment's settings (see dashboard.app)."""
from dashboard.app import main_from_env

main_from_env()
