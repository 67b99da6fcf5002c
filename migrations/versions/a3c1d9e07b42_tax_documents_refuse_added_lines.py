"""tax documents refuse added lines: invoices.line_count and an INSERT trigger on invoice_lines

Revision ID: a3c1d9e07b42
Revises: 5f618d4d3f85
Create Date: 2026-11-28 09:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3c1d9e07b42'
down_revision = '5f618d4d3f85'
branch_labels = None
depends_on = None

# The UPDATE and DELETE triggers of 528488e70c21 cover changed and removed
# lines; this one covers an added line. A tax document is issued with its
# lines in one transaction, and `line_count` (set by the ORM guard at issue,
# then frozen by the UPDATE trigger) is how many it may ever have. Tax
# documents issued before this revision keep 0: they accept no new line.
_REFUSE = "tax documents are immutable: issue a credit note instead"


def upgrade():
    # Not in batch mode: rebuilding `invoices` on SQLite would drop its triggers.
    op.add_column('invoices', sa.Column('line_count', sa.Integer(), server_default='0', nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION refuse_tax_document_line_insert() RETURNS trigger AS $$
            DECLARE
                parent invoices%ROWTYPE;
            BEGIN
                SELECT * INTO parent FROM invoices WHERE id = NEW.invoice_id;
                IF parent.kind <> 'proforma'
                   AND (SELECT count(*) FROM invoice_lines WHERE invoice_id = NEW.invoice_id) >= parent.line_count THEN
                    RAISE EXCEPTION '{_REFUSE}' USING ERRCODE = 'integrity_constraint_violation';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql
        """)
        op.execute("""
            CREATE TRIGGER invoice_lines_sealed BEFORE INSERT ON invoice_lines
            FOR EACH ROW EXECUTE FUNCTION refuse_tax_document_line_insert()
        """)
    else:
        op.execute(f"""
            CREATE TRIGGER invoice_lines_sealed BEFORE INSERT ON invoice_lines
            FOR EACH ROW WHEN (SELECT kind FROM invoices WHERE id = NEW.invoice_id) <> 'proforma'
                AND (SELECT count(*) FROM invoice_lines WHERE invoice_id = NEW.invoice_id)
                    >= (SELECT line_count FROM invoices WHERE id = NEW.invoice_id)
            BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END
        """)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS invoice_lines_sealed ON invoice_lines")
        op.execute("DROP FUNCTION IF EXISTS refuse_tax_document_line_insert()")
    else:
        op.execute("DROP TRIGGER IF EXISTS invoice_lines_sealed")
    # Not in batch mode (see upgrade): SQLite 3.35+ drops a column in place.
    op.drop_column('invoices', 'line_count')
