"""The browser dashboard: a Dash app over the REST API (dashboard/app.py builds it).

client.py hands pages the shared typed API client (client/), figures.py and tables.py turn its
answers into figures and rows, pages/ holds one module per page (Jobs, Run, Compare, Datasets).
"""
