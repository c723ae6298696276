"""PDF renditions, redaction marks and burned-in redaction for Woo publication (issue 19).

* :mod:`.marks`: a redaction mark (text span or page region) and the Woo grounds it may name;
* :mod:`.render`: a PDF rendition of every document kind the Woo export knows;
* :mod:`.redact`: burn marks into a PDF so the withheld content is gone from the file;
* :mod:`.suggest`: candidate marks for personal data (e-mail, phone, IBAN, BSN, address, names);
* :mod:`.derived`: renditions and redacted PDFs stored in the vault as derived records.
"""
