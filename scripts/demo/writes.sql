-- One round of the live workload: inserts, updates (some leave TOASTed values alone), deletes.
INSERT INTO public.page_views (url, ms, payload) SELECT '/live/' || g, g, jsonb_build_object('live', true) FROM generate_series(1, 20) g;
UPDATE public.page_views SET ms = ms + 1 WHERE id IN (SELECT id FROM public.page_views ORDER BY random() LIMIT 10);
UPDATE public.documents SET title = title || '*' WHERE id IN (SELECT id FROM public.documents ORDER BY random() LIMIT 3);
DELETE FROM public.page_views WHERE id IN (SELECT id FROM public.page_views ORDER BY random() LIMIT 5);
UPDATE public.metrics SET value = value + 1 WHERE ctid IN (SELECT ctid FROM public.metrics ORDER BY random() LIMIT 2);
INSERT INTO public.metrics VALUES ('cpu', random(), now());
