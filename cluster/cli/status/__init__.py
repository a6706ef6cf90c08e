"""crm_status's pieces: the shared view, then one module per output format.

:mod:`.view` (the status with its extras and chosen sections), :mod:`.text`
(crm_mon's text), :mod:`.pacemaker_xml` (Pacemaker's API XML), :mod:`.json_out`
(our JSON), :mod:`.cib` (``cibadmin --query``'s CIB), :mod:`.watch` (``-i``).
"""
