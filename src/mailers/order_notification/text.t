Hello,

{{ summary }}

Order:  {{ order_id }}
Status: {{ status }}
Total:  {{ total }}
{% if reason %}Reason: {{ reason }}
{% endif %}
Customer: {{ customer_id }}
