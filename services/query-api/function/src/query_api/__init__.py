"""Read side: HTTP queries over the read models in Postgres"""
