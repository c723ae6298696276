"""PDF renditions, redaction marks and burned-in redaction for Woo publication (issue 19).

* :mod:`.marks`: :class:`~.marks.RedactionMark` (a text span or a page region with a ground code)
  and :data:`~.marks.GROUNDS`, the Woo grounds the government's Woo platform accepts;
* :mod:`.render`: :class:`~.render.Rendition` of every document kind the Woo export knows
  (``render_document(vault, index_document)`` dispatches; a failure carries its reason);
* :mod:`.redact`: ``burn_in(pdf, marks) -> bytes`` removes the withheld content from the file;
  ``plan(pdf, marks)`` shows where the boxes will be; ``leaks(pdf, strings)`` proves absence;
* :mod:`.suggest`: candidate marks for personal data (e-mail, phone, IBAN, BSN, address, names);
* :mod:`.derived`: ``store_derived(vault, pdf, kind=..., ...)`` keeps a rendition or redacted PDF
  as a write-once derived record listed by a manifest of its own run.

Typical use (an officer's partly public document)::

    rendition = render_document(vault, doc)                      # doc: an IndexDocument
    if rendition.pdf is None: report(rendition.failure)          # never skipped silently
    marks = [s.mark for s in suggest_pdf(rendition.pdf, names=names) if accepted(s)]
    redacted = burn_in(rendition.pdf, marks)
    store_derived(vault, redacted, kind=REDACTED, source_record_id=doc.record_id,
                  document_id=doc.doc_id, case_ref=case, officer=user, marks=marks,
                  tool_versions={**rendition.tool_versions, **tool_versions()})
"""
