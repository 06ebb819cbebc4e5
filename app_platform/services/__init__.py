"""Services own the work and the transactions; API handlers only parse, authorize (through
the service), call and serialize."""
