"""SOAP plumbing for the EWS endpoint: namespaces, the response envelope, faults, element helpers."""

from __future__ import annotations

from typing import Any

from lxml import etree

SOAPNS = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
NSMAP = {"m": MNS, "t": TNS}


class EwsFault(Exception):
    """A request-level failure, answered as a SOAP fault."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def m(tag: str, text: str | None = None, **attrs: str) -> Any:
    elem = etree.Element(f"{{{MNS}}}{tag}", nsmap=NSMAP, attrib=attrs)
    if text is not None:
        elem.text = text
    return elem


def t(tag: str, text: str | None = None, **attrs: str) -> Any:
    elem = etree.Element(f"{{{TNS}}}{tag}", nsmap=NSMAP, attrib=attrs)
    if text is not None:
        elem.text = text
    return elem


def sub(parent: Any, ns: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    elem = etree.SubElement(parent, f"{{{MNS if ns == 'm' else TNS}}}{tag}", attrib=attrs)
    if text is not None:
        elem.text = text
    return elem


def envelope(response: Any) -> bytes:
    root = etree.Element(f"{{{SOAPNS}}}Envelope", nsmap={"s": SOAPNS})
    header = etree.SubElement(root, f"{{{SOAPNS}}}Header")
    etree.SubElement(
        header,
        f"{{{TNS}}}ServerVersionInfo",
        attrib={
            "MajorVersion": "15",
            "MinorVersion": "20",
            "MajorBuildNumber": "8769",
            "MinorBuildNumber": "21",
            "Version": "V2018_01_08",
        },
        nsmap={"h": TNS},
    )
    body = etree.SubElement(root, f"{{{SOAPNS}}}Body")
    body.append(response)
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return result


def fault(code: str, message: str, values: dict[str, str] | None = None) -> bytes:
    """A SOAP fault as Exchange sends it; ``values`` go into ``detail/MessageXml`` as ``t:Value``
    elements (``BackOffMilliseconds`` first, where exchangelib and EWS clients look for it)."""
    root = etree.Element(f"{{{SOAPNS}}}Envelope", nsmap={"s": SOAPNS})
    body = etree.SubElement(root, f"{{{SOAPNS}}}Body")
    soap_fault = etree.SubElement(body, f"{{{SOAPNS}}}Fault")
    code_elem = etree.SubElement(soap_fault, "faultcode", nsmap={"a": ENS})
    code_elem.text = f"a:{code}"
    string = etree.SubElement(
        soap_fault, "faultstring", attrib={"{http://www.w3.org/XML/1998/namespace}lang": "en-US"}
    )
    string.text = message
    detail = etree.SubElement(soap_fault, "detail")
    response_code = etree.SubElement(detail, f"{{{ENS}}}ResponseCode", nsmap={"e": ENS})
    response_code.text = code
    text = etree.SubElement(detail, f"{{{ENS}}}Message", nsmap={"e": ENS})
    text.text = message
    if values:
        xml = etree.SubElement(detail, f"{{{TNS}}}MessageXml", nsmap={"t": TNS})
        for name, value in values.items():
            etree.SubElement(xml, f"{{{TNS}}}Value", attrib={"Name": name}).text = value
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return result
