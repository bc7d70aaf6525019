Order {{ order_id }}: {{ headline -}}
