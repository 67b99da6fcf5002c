"""Per-line VAT rates; Romanian billing regions as ISO 3166-2 codes (issue 15)

Revision ID: d15a1b2c3d4e
Revises: c14a0e1b2d3f

- invoice_lines.tax_rate_bp: a line's own VAT rate when a document has two rates (NULL: the
  document's tax_rate_bp, as every existing line).
- clients.region and billing_profiles.region, for country RO: a free-text county that maps to
  an ISO 3166-2:RO code ("Cluj" -> "RO-CJ", "Bucuresti" -> "RO-B") is stored as the code, as
  e-Factura (CIUS-RO) wants it; text that maps to nothing stays, and the billing form asks for
  a county the next time. A Bucharest city written as a sector ("Sector 3") becomes "SECTOR3". Issued documents (invoices.buyer_region) are never changed.
"""

import sqlalchemy as sa
from alembic import op

# The county table is static data (ISO 3166-2:RO): the migration uses the module the forms use.
from app.clients.ro_counties import county_code, sector

revision = "d15a1b2c3d4e"
down_revision = "c14a0e1b2d3f"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD/DROP COLUMN (SQLite has both): a batch copy of invoice_lines would rewrite its
    # foreign keys as table constraints, and an older downgrade's DROP COLUMN credited_line_id fails.
    op.add_column("invoice_lines", sa.Column("tax_rate_bp", sa.Integer(), nullable=True))
    bind = op.get_bind()
    for table in ("clients", "billing_profiles"):
        rows = bind.execute(
            sa.text(f"SELECT DISTINCT region FROM {table} WHERE country = 'RO' AND region IS NOT NULL")
        ).all()
        for (region,) in rows:
            code = county_code(region)
            if code and code != region:
                bind.execute(
                    sa.text(f"UPDATE {table} SET region = :code WHERE country = 'RO' AND region = :region"),
                    {"code": code, "region": region},
                )
        cities = bind.execute(
            sa.text(f"SELECT DISTINCT city FROM {table} WHERE country = 'RO' AND region = 'RO-B' AND city IS NOT NULL")
        ).all()
        for (city,) in cities:
            if sector(city) and sector(city) != city:
                bind.execute(
                    sa.text(f"UPDATE {table} SET city = :sector WHERE country = 'RO' AND region = 'RO-B' AND city = :city"),
                    {"sector": sector(city), "city": city},
                )


def downgrade():
    # The regions stay codes: the old free text is not kept (a code is a valid county name too).
    op.drop_column("invoice_lines", "tax_rate_bp")
