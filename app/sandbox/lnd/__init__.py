"""SIMULATED LND REST API: LND's endpoints, JSON shapes, macaroons and errors over a sandbox node.

Entry points: `LndSimulator` (ASGI app, app.py), `SimulatedNode` (node.py), `running_simulator` (server.py,
for tests) and `python -m app sandbox lnd` (app/cli/sandbox.py).
"""
