from django.urls import path

from .api import PrefillCreateView, PrefillDetailView, PrefillPhotoView

urlpatterns = [
    path("prefill/", PrefillCreateView.as_view(), name="prefill-create"),
    path("prefill/<uuid:run_id>/", PrefillDetailView.as_view(), name="prefill-detail"),
    path("prefill/<uuid:run_id>/photo/", PrefillPhotoView.as_view(), name="prefill-photo"),
]
