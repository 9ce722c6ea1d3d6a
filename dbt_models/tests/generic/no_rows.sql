{# Fails with every row of the model: for models that list problems, such as rejected rows. #}
{% test no_rows(model) %}
select * from {{ model }}
{% endtest %}
