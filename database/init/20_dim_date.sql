-- 20: calendar 2015-2035 and daily FX rates. Safe to run twice.
insert into warehouse.dim_date (date_key, full_date, year, quarter, month, month_name,
                                day_of_month, day_of_week, day_name, week_of_year, is_weekend)
select to_char(d, 'YYYYMMDD')::int, d::date,
       extract(year from d), extract(quarter from d), extract(month from d),
       trim(to_char(d, 'Month')), extract(day from d), extract(isodow from d),
       trim(to_char(d, 'Day')), extract(week from d), extract(isodow from d) >= 6
from generate_series(date '2015-01-01', date '2035-12-31', interval '1 day') as d
on conflict (date_key) do nothing;

-- A deterministic, gently moving EUR rate (simulated: the suite has no market feed).
insert into warehouse.fx_rate (currency, rate_date, usd_per_unit)
select 'USD', d::date, 1 from generate_series(date '2015-01-01', date '2035-12-31', interval '1 day') d
union all
select 'EUR', d::date,
       round((1.10 + 0.04 * sin((d::date - date '2015-01-01') / 45.0))::numeric, 6)
from generate_series(date '2015-01-01', date '2035-12-31', interval '1 day') d
on conflict (currency, rate_date) do nothing;
