{#- `.t` files are not autoescaped: every value from an order file is escaped by hand. -#}
<html>
  <body>
    <p>Hello,</p>
    <p>{{ summary | escape }}</p>
    <table>
      <tr><th align="left">Order</th><td>{{ order_id | escape }}</td></tr>
      <tr><th align="left">Status</th><td>{{ status | escape }}</td></tr>
      <tr><th align="left">Total</th><td>{{ total | escape }}</td></tr>
      {% if reason %}<tr><th align="left">Reason</th><td>{{ reason | escape }}</td></tr>{% endif %}
    </table>
    <p>Customer: {{ customer_id | escape }}</p>
  </body>
</html>
